"""The grader service: FastAPI app, SQLAlchemy storage, a database-backed job queue, workers
and a server-rendered web UI.

Modules (one job each): ``config`` (settings and the state directory), ``db`` (engine,
SQLite pragmas, migrations), ``models`` (tables), ``queue`` (enqueue / claim / heartbeat /
complete), ``worker`` (the grading loop), ``auth`` (tokens, sessions), ``catalog``
(assignments and deadlines), ``submissions`` (upload checks and limits), ``exports``
(nbgrader CSV, Gradescope JSON), ``api`` and ``web`` (routes), ``app`` (assembly).
"""
