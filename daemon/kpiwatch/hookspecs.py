"""The hooks kpiwatch calls. Each one is documented in docs/plugins.md."""

from __future__ import annotations

from kpiwatch import hookspec


@hookspec
def kpiwatch_register_platforms(register):
    """Register platforms this plugin can poll.

    Called once when plugins are loaded (daemon start, ``check-config``, ``collect``,
    ``plugins``). Call ``register(kpiwatch.Platform(...))`` once per platform. The return
    value is ignored. A name already registered by another plugin is refused with an error.
    """


@hookspec
def kpiwatch_register_notifiers(register):
    """Register notifier types: channels alerts can be delivered through.

    Called once when plugins are loaded, like ``kpiwatch_register_platforms``. Call
    ``register(kpiwatch.NotifierType(...))`` once per type; a ``notifiers:`` entry of the
    configuration names the type in ``type:``. The built-in types ``webhook``,
    ``alertmanager`` and ``apprise`` are registered through this hook too. The return value is
    ignored. A type name already registered by another plugin is refused with an error.
    """


@hookspec
def kpiwatch_startup(app):
    """Run set-up work once the daemon has loaded its configuration, before the first poll.

    ``app`` is the running :class:`kpiwatch.daemon.Daemon`. May return an awaitable, which is
    awaited. An exception is logged and does not stop the daemon.
    """


@hookspec
def kpiwatch_shutdown(app):
    """Release resources when the daemon stops, after polling has ended.

    ``app`` is the :class:`kpiwatch.daemon.Daemon`. May return an awaitable, which is awaited
    within the shutdown grace time. An exception is logged and does not stop the shutdown.
    """
