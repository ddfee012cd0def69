"""The container commands by name ("module:function" under minictr.cli): docker
has them both at the top level and under `docker container`. Kept free of
imports: the top-level group reads it at every start."""

CONTAINER_COMMANDS = {
    "run": "container.run:run",
    "create": "container.run:create",
    "start": "container.run:start",
    "stop": "container.manage:stop",
    "restart": "container.manage:restart",
    "kill": "container.manage:kill",
    "rm": "container.manage:rm",
    "ps": "container.manage:ps",
    "wait": "container.manage:wait",
    "pause": "container.manage:pause",
    "unpause": "container.manage:unpause",
    "update": "container.manage:update",
    "rename": "container.manage:rename",
    "port": "container.manage:port",
    "logs": "container.streams:logs",
    "exec": "container.streams:exec_",
    "attach": "container.streams:attach",
    "diff": "container.fs:diff",
    "cp": "container.fs:cp",
    "export": "container.fs:export",
    "commit": "container.fs:commit",
    "top": "container.observe:top",
    "stats": "container.observe:stats",
}

# only under `container`: docker's aliases, and what the shim runs
GROUP_ONLY = {
    "ls": "container.manage:ps",
    "list": "container.manage:ps",
    "inspect": "container.group:inspect_containers",
    "prune": "container.group:prune",
    "cleanup": "container.group:cleanup",
}
