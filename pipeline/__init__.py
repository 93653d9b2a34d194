"""The jobs: fetch, detect, DLP, finish, dispatch, reaper and the inline runner.

Plain functions over ``store``, ``connectors`` and ``detectors``; the Celery tasks in ``tasks/``
are thin wrappers around them, and the CLI's ``--inline`` mode calls them directly.
"""
