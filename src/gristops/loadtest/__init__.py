"""`gristops loadtest`: app-like traffic from Locust in k6-style stages, judged by thresholds.

Locust (gevent) runs in a child process of its own (`runner`); this side loads
the plan, starts it, shows its progress and judges the result it writes.
"""
