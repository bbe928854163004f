"""Domain events: the transactional outbox (CloudEvents 1.0) and what delivers it.

Infrastructure that domains publish into (``outbox.record``); it imports no domain. The
relay hands committed events to sinks (bus, hub, webhooks, the registered subject cache);
``repository.py`` holds every statement; ``runtime.py`` is what one process runs.
"""
