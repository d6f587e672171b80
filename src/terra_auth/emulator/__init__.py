"""A local, stateful Terra: the auth API, the hosted widget, signed webhooks and faults.

Example:
    >>> from terra_auth.emulator import Emulator
    >>> with Emulator(seed=1, time_scale=0.001) as emu:  # doctest: +SKIP
    ...     creds = emu.credentials("testing")
"""

from __future__ import annotations

from terra_auth.emulator.accounts import Account
from terra_auth.emulator.faults import Fault
from terra_auth.emulator.server import Emulator, create_app
from terra_auth.emulator.state import Clock, RequestRecord
from terra_auth.emulator.webhooks import Attempt, Delivery

__all__ = [
    "Account",
    "Attempt",
    "Clock",
    "Delivery",
    "Emulator",
    "Fault",
    "RequestRecord",
    "create_app",
]
