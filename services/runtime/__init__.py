"""Runtime shared by the services: codec, metrics, dead letters, topics, the stage step, the local broker."""
