"""The resource dependency graph of a CloudFormation or SAM template, and the cycles in it.

CloudFormation refuses a template whose resources depend on each other in a circle. It orders resources by
every reference between them: `Ref`, `Fn::GetAtt` (list and "Name.Attr" forms), `Fn::Sub` (the `${Name}` and
`${Name.Attr}` forms, in the string and the list form, where the list's own variables shadow resource names),
and `DependsOn`. References to parameters and pseudo parameters (`AWS::Region`) are not dependencies.

SAM resources expand into several CloudFormation resources, and the graph follows what they expand into:
- a function depends on everything in its properties (its `Role`, `Layers`, environment, ...), except
- each of its `Events` becomes resources of its own (a rule, a permission, a subscription) that depend on the
  function and on what the event names, so the function does not depend on them;
- a function without a `Role` gets a generated role `<Function>Role` built from its `Policies`,
  `PermissionsBoundary` and `AssumeRolePolicyDocument`, and depends on it;
- `Name.Alias`, `Name.Version`, `Name.Stage` and `Name.Deployment` name resources generated from `Name` that
  depend on nothing else, so a reference to them counts as one to `Name`.

Run as `python -m tests.infra.template_graph TEMPLATE.json`: prints any cycle and exits 1, else exits 0.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_SAM_GENERATED = (".Alias", ".Version", ".Stage", ".Deployment")
_GENERATED_ROLE_PROPERTIES = ("Policies", "PermissionsBoundary", "AssumeRolePolicyDocument")


def _sub_names(text: str, shadowed: frozenset[str]) -> set[str]:
    """Names a `Fn::Sub` string refers to: `${Name}` and `${Name.Attr}`, not `${!Literal}` nor its own variables."""
    out = set()
    for variable in _SUB_VARIABLE.findall(text):
        if variable in shadowed:
            continue
        out.add(variable.split(".", 1)[0])
    return out


def references(value, shadowed: frozenset[str] = frozenset()) -> set[str]:
    """Every name a template value refers to through Ref, Fn::GetAtt and Fn::Sub, wherever it is nested."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item, shadowed)
    elif isinstance(value, dict):
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" and isinstance(arg, str):
                return {arg}
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    return {arg.split(".", 1)[0]}
                if isinstance(arg, list) and arg:
                    return references(arg[1:], shadowed) | ({arg[0]} if isinstance(arg[0], str) else set())
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return _sub_names(arg, shadowed)
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
                    own = frozenset(arg[1])
                    text = _sub_names(arg[0], shadowed | own) if isinstance(arg[0], str) else references(arg[0])
                    return text | references(list(arg[1].values()), shadowed)
        for item in value.values():
            found |= references(item, shadowed)
    return found


def _depends_on(resource: dict) -> set[str]:
    value = resource.get("DependsOn", [])
    return {value} if isinstance(value, str) else set(value)


def dependency_graph(template: dict) -> dict[str, set[str]]:
    """{resource: the resources it depends on}, with SAM resources expanded as described above."""
    resources = template.get("Resources", {})
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        properties = resource.get("Properties", {}) or {}
        attributes = {k: v for k, v in resource.items() if k not in ("Type", "Properties", "DependsOn", "Condition")}
        own = references(attributes) | _depends_on(resource)
        if resource.get("Type") == "AWS::Serverless::Function":
            inline = {k: v for k, v in properties.items() if k != "Events"}
            if "Role" not in properties:
                role = f"{name}Role"
                graph[role] = references({k: properties[k] for k in _GENERATED_ROLE_PROPERTIES if k in properties})
                inline = {k: v for k, v in inline.items() if k not in _GENERATED_ROLE_PROPERTIES}
                own.add(role)
            for event, spec in (properties.get("Events") or {}).items():
                graph[f"{name}{event}"] = references(spec) | {name}
            graph[name] = own | references(inline)
        else:
            graph[name] = own | references(properties)
    known = set(graph)
    aliases = {f"{n}{suffix}": n for n in resources for suffix in _SAM_GENERATED}
    return {name: {aliases.get(d, d) for d in deps} & known for name, deps in graph.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of resources that depend on each other (strongly connected, or one depending on itself),
    as a path that starts and ends at the same resource. Empty when CloudFormation can order them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # Tarjan's algorithm, iterative so a long chain cannot exhaust the stack
        nonlocal counter
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in graph.get(node, ()):
                        groups.append(_path(graph, set(group)))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return groups


def _path(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One circular path through a strongly connected group, for the message: A -> B -> ... -> A."""
    start = min(group)
    path, seen, node = [start], {start}, start
    while True:
        step = sorted(d for d in graph[node] if d in group)
        nxt = next((d for d in step if d == start), None) or next((d for d in step if d not in seen), step[0])
        path.append(nxt)
        if nxt == start or nxt in seen:
            return path[path.index(nxt):]
        seen.add(nxt)
        node = nxt


def cycles_in(template: dict) -> list[list[str]]:
    return find_cycles(dependency_graph(template))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.infra.template_graph TEMPLATE.json", file=sys.stderr)
        return 2
    cycles = cycles_in(json.loads(Path(argv[0]).read_text()))
    for cycle in cycles:
        print("circular dependency: " + " -> ".join(cycle), file=sys.stderr)
    if not cycles:
        print(f"{argv[0]}: no circular dependencies between resources")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
