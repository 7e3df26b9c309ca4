"""The runtime: supervisor, registry/watcher/executor actors, the ScriptEngine facade."""
