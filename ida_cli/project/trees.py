"""Trees as stored records: load one, export it as JSON (docs/spec.md §6.2), import one from JSON."""

from __future__ import annotations

import json
from pathlib import Path

from ida_cli.errors import ParseError, UsageError
from ida_cli.project.outputs import Protected, atomic_path, check_output
from ida_cli.store import Store, records, treestore
from ida_cli.tasks import BUILTIN, USER, get_task
from ida_cli.vocabulary import Tree, tree_from_json


def show(store: Store, tree_id: int) -> Tree:
    with store.read() as con:
        return treestore.load_tree(con, tree_id)


def export(store: Store, tree_id: int, path: Path, force: bool = False) -> Tree:
    protected = Protected.of(store)
    check_output(path, protected, force)
    tree = show(store, tree_id)
    with atomic_path(path, protected, force) as tmp:
        tmp.write_text(json.dumps(tree.to_json(), indent=1) + "\n", encoding="utf-8")
    return tree


def parse_file(path: Path) -> Tree:
    """Read and check a tree file completely before anything is written."""
    if not path.is_file():
        raise UsageError(f"no file {path}: give a tree JSON file (see `ida trees export`)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ParseError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise ParseError(f"{path}: the JSON is nested too deeply to be an ida tree") from None
    tree = tree_from_json(doc, where=str(path))
    if tree.task not in (*BUILTIN, USER):
        raise ParseError(f"{path}: unknown task '{tree.task}' (use one of {', '.join((*BUILTIN, USER))})")
    task = get_task(tree.task)
    try:
        task.validate_context(tree.context)
    except ParseError as e:
        raise ParseError(f"{path}: context: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ParseError(f"{path}: context is not a {tree.task} context (see docs/spec.md §6.1)") from None
    paths = {id(tree.root): "root"}
    for node in tree.root.walk():
        where = paths[id(node)]
        for i, child in enumerate(node.children):
            paths[id(child)] = f"{where}.children[{i}]"
        try:
            task.check_question(node.question, tree.context)
        except ParseError as e:
            raise ParseError(f"{path}: {where} (node {node.id}) question: {e}") from None
        if node.answer != "?" and not task.answer_ok(node.question, node.answer, tree.context):
            raise ParseError(
                f"{path}: {where} (node {node.id}) answer {json.dumps(node.answer)} is not of the "
                f"form for '{task.question_text(node.question)}': {task.answer_hint(node.question)}"
            )
        node.primitive = task.is_primitive(tree.context, node.question)
        if task.has_expert:
            node.truth, node.has_truth = task.truth(tree.context, node.question), True
    return tree


def import_file(store: Store, path: Path) -> Tree:
    """Keep the file's tree and node ids; refuse ids already taken."""
    from ida_cli.project.questions import digest

    tree = parse_file(path)
    node_ids = [n.id for n in tree.root.walk()]
    with store.write() as con:
        taken = treestore.tree_ids_taken(con, tree.id, node_ids)
        if taken:
            raise UsageError(f"{path}: {taken}: export it again with other ids or use another --db")
        d = digest(tree.task, tree.context)
        known = records.context_digests(con, tree.task).get(d)
        if known:
            tree.context_id = known[0]
        else:
            first, _ = records.insert_questions(
                con,
                [
                    {
                        "key": 0,
                        "task": tree.task,
                        "size": _size(tree),
                        "split": "import",
                        "data": tree.context,
                        "digest": d,
                    }
                ],
                [],
            )
            tree.context_id = first
        treestore.write_trees(con, [tree], None)
    return tree


def _size(tree: Tree) -> int:
    return 0 if tree.task == USER else get_task(tree.task).context_size(tree.context)
