"""The operations service: the plant run day to day through an API and a dashboard.

``gridhash serve`` (:func:`gridhash.service.cli.serve`) starts it; tests and
embedders call :func:`gridhash.service.app.create_app` with a
:class:`gridhash.service.config.ServiceConfig`.  See docs/service.md.
"""
