"""The site agent: signed setpoints from the service in, mining machines asleep or awake out.

Layers: :mod:`~gridhash.agent.setpoint` (verify a setpoint with the pinned
service key), :mod:`~gridhash.agent.fleet` (``miners.toml`` and the allocation of
a MW cap over machines), :mod:`~gridhash.agent.backend` (the hardware interface,
with :mod:`~gridhash.agent.pyasic_backend` behind it), :mod:`~gridhash.agent.run`
(the control loop) and :mod:`~gridhash.agent.cli` (``gridhash agent``).  The
agent talks to the service only over HTTP; it imports nothing from
:mod:`gridhash.service`.  docs/agent.md describes it.
"""
