"""The built-in notifier types, registered through the same hook as a plugin's."""

from __future__ import annotations

from collections.abc import Callable

import kpiwatch
from kpiwatch.alerting.notifiers.alertmanager import ALERTMANAGER
from kpiwatch.alerting.notifiers.base import NotifierType
from kpiwatch.alerting.notifiers.chat import APPRISE
from kpiwatch.alerting.notifiers.webhook import WEBHOOK

BUILTIN_NOTIFIER_TYPES: tuple[NotifierType, ...] = (WEBHOOK, ALERTMANAGER, APPRISE)


@kpiwatch.hookimpl
def kpiwatch_register_notifiers(register: Callable[[NotifierType], None]) -> None:
    for notifier_type in BUILTIN_NOTIFIER_TYPES:
        register(notifier_type)
