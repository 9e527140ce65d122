"""Top layer: the `ioc` command and the demo. Everything else is imported from here, never the
reverse."""
