"""TimescaleDB side of smartcity-ioc: migrations, the KPI writer, retention."""
