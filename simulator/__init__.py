"""A Hau Giang province simulator: realistic portal, network and farm events, with faults.

``generator.generate(config)`` is pure: an iterator of ``generator.Message`` (topic, key,
value bytes, injected fault, expected rejection). ``output`` sends them to Kafka or a JSONL
file with pacing; ``cli`` is ``ioc simulate``.
"""
