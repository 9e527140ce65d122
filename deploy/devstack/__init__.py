"""Local development servers without Docker: ``ioc dev up | down | status``.

One module per server (kafka, postgres, prometheus) on top of a common process and pid-file
module; ``stack`` runs them together and ``cli`` is the ``ioc dev`` command.
"""
