"""The lab's rules: the server's settings and limits, the life of a run (create, queue, stop,
continue, delete) and the classroom. Imports no Keras."""
