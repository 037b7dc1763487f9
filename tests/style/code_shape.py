#!/usr/bin/env python3
"""Checks the shape rules a newcomer relies on: no source file in the production folders over 500
lines, no function over 60 lines, and the one-way include graph (listeners -> ingest -> buffer ->
nothing; uplink -> buffer; see ARCHITECTURE.md). A reviewer's rule that nobody checks drifts, so
ctest checks it.

Functions are found by braces, not by a compiler: at namespace or class scope, a `{` whose header
(the text since the previous `;`, `{` or `}`) holds a parameter list and is not a class, struct,
enum, union or namespace opens a function body; the function runs from its header's first line to
the matching `}`. Lambdas and local classes count toward the function that holds them.
Usage: code_shape.py ROOT [--max-file N] [--max-function N]"""
import argparse
import pathlib
import re
import sys

FOLDERS = ("agent", "buffer", "uplink")
SCOPE_KEYWORDS = re.compile(r"^\s*(template\s*<.*>\s*)?(class|struct|enum|union|namespace|extern)\b")


def strip_comments_and_strings(text):
    """Blanks comments, string and character literals, keeping every newline so line numbers hold."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def long_functions(path, limit):
    text = strip_comments_and_strings(path.read_text())
    found = []
    # Each open brace: (kind, first line of its header). kind is "scope" or "function" or "inner".
    stack = []
    header_start = 0
    line = 1
    for pos, c in enumerate(text):
        if c == "\n":
            line += 1
        if c in ";{}":
            header = text[header_start:pos]
            in_function = any(kind != "scope" for kind, _, _ in stack)
            if c == "{":
                if in_function:
                    stack.append(("inner", line, ""))
                else:
                    stripped = header.strip()
                    is_function = "(" in stripped and not SCOPE_KEYWORDS.match(stripped) \
                        and not stripped.endswith("=")
                    # The header's first line: the line of its first non-blank character.
                    lead = len(header) - len(header.lstrip())
                    first = line - text[header_start + lead:pos].count("\n")
                    words = stripped.split("(")[0].split()
                    name = words[-1] if is_function and words else ""
                    stack.append(("function" if is_function else "scope", first, name))
            elif c == "}" and stack:
                kind, first, name = stack.pop()
                if kind == "function" and line - first + 1 > limit:
                    found.append((first, line - first + 1, name))
            header_start = pos + 1
    return found


# Which project folders a folder's files may not include (by path prefix). Everything under
# buffer/ is below the agent and the uplink; buffer/base is below everything.
FORBIDDEN_INCLUDES = {
    "buffer/base/": ("agent/", "uplink/", "buffer/windows/", "buffer/identity/", "buffer/sqlite/",
                     "buffer/store/"),
    "buffer/": ("agent/", "uplink/"),
    "uplink/": ("agent/",),
    "agent/config/": ("agent/ingest/", "agent/listeners/", "agent/meters/", "agent/ctl/",
                      "agent/admin/"),
    "agent/decode/": ("agent/ingest/", "agent/listeners/", "agent/meters/", "agent/ctl/",
                      "agent/admin/"),
    "agent/meters/": ("agent/ingest/", "agent/listeners/", "agent/ctl/", "agent/admin/"),
    "agent/ingest/": ("agent/listeners/", "agent/ctl/", "uplink/", "agent/admin/"),
    "agent/listeners/": ("agent/ingest/ingest.h", "agent/meters/", "agent/ctl/", "buffer/store/",
                         "buffer/sqlite/", "uplink/", "agent/admin/"),
    "agent/admin/": ("agent/ctl/", "uplink/kafka"),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def layering_problems(rel, text):
    rel = rel.as_posix()
    rule = max((folder for folder in FORBIDDEN_INCLUDES if rel.startswith(folder)), key=len,
               default=None)
    if rule is None:
        return []
    return [f"{rel}: includes {target}, which {rule} may not include"
            for target in INCLUDE.findall(text)
            if any(target.startswith(banned) for banned in FORBIDDEN_INCLUDES[rule])]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--max-file", type=int, default=500)
    parser.add_argument("--max-function", type=int, default=60)
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    problems = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cc", ".h"):
                continue
            rel = path.relative_to(root)
            text = path.read_text()
            problems.extend(layering_problems(rel, text))
            lines = text.count("\n")
            if lines > args.max_file:
                problems.append(f"{rel}: {lines} lines (at most {args.max_file})")
            for first, length, name in long_functions(path, args.max_function):
                problems.append(f"{rel}:{first}: function {name} has {length} lines "
                                f"(at most {args.max_function})")
    for problem in problems:
        print(problem)
    print(f"code shape: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
