"""Bottom layer of smartcity-ioc: settings from the environment, user-facing errors, metric
definitions and the one duration grammar. It imports nothing of the product."""
