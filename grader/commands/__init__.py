"""Sub-commands of the ``grader`` CLI, one module each."""
