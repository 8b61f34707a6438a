"""The task registry: built-in tasks by name, plus the user task for imported text questions."""

from __future__ import annotations

from ida_cli.errors import UnknownTask
from ida_cli.tasks.base import Task

BUILTIN = ("permutation", "assignments", "wildcard", "unionfind", "shortpath")
USER = "user"


def get_task(name: str) -> Task:
    if name == "permutation":
        from ida_cli.tasks.permutation import Permutation

        return Permutation()
    if name == "assignments":
        from ida_cli.tasks.assignments import Assignments

        return Assignments()
    if name == "wildcard":
        from ida_cli.tasks.wildcard import Wildcard

        return Wildcard()
    if name == "unionfind":
        from ida_cli.tasks.unionfind import UnionFind

        return UnionFind()
    if name == "shortpath":
        from ida_cli.tasks.shortpath import ShortPath

        return ShortPath()
    if name == USER:
        from ida_cli.tasks.user import UserTask

        return UserTask()
    raise UnknownTask(f"unknown task '{name}': use one of {', '.join((*BUILTIN, USER))} (see `ida tasks`)")
