"""What a paced run does when the machine cannot keep its speed (``WallClock``'s ``overrun``).

Kept apart from the clock so that ``satwin serve`` can check ``--overrun`` at module level without
importing the twin model (and pandapower) behind ``twin.run.loop``: ``satwin --help`` and
``satwin validate`` stay light.
"""

OVERRUN_POLICIES = ("warn", "slow", "stop")
