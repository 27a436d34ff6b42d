#!/usr/bin/env python3
"""Code size of a wasm module by Rust crate, from its name section.

cargo-bloat does this for native binaries only, and twiggy lists functions but not crates:
this sums each function body under the crate that defines it (its demangled path's first
segment). A trait method `<A as B>::f` counts for A's crate when A is a path, else for B's.
Legacy-mangled names carry no type arguments, so generic code instantiated for this app
(views, above all) counts for the crate that defines it (tachys, say). Give it a wasm that
still has its names: `bench/wasm-size.sh` optimizes the client with `wasm-opt -g`.

    bench/wasm-crates.py module.wasm [--top N] [--functions CRATE]
"""
import argparse
import collections
import re
import sys


def leb(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def sections(data):
    i = 8
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        yield sid, data[i : i + size]
        i += size


def read_module(path):
    data = open(path, "rb").read()
    imported, bodies, names = 0, [], {}
    for sid, body in sections(data):
        if sid == 2:  # imports: they take the first function indices
            count, i = leb(body, 0)
            for _ in range(count):
                for _ in range(2):
                    n, i = leb(body, i)
                    i += n
                kind = body[i]
                i += 1
                if kind == 0:
                    imported += 1
                    _, i = leb(body, i)
                elif kind == 1:
                    i += 1
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 2:
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 3:
                    i += 2
                else:
                    _, i = leb(body, i)  # tag
                    _, i = leb(body, i)
        elif sid == 10:
            count, i = leb(body, 0)
            for _ in range(count):
                size, j = leb(body, i)
                bodies.append(j + size - i)
                i = j + size
        elif sid == 0:
            n, i = leb(body, 0)
            if body[i : i + n] != b"name":
                continue
            i += n
            while i < len(body):
                sub = body[i]
                size, i = leb(body, i + 1)
                if sub == 1:
                    count, j = leb(body, i)
                    for _ in range(count):
                        idx, j = leb(body, j)
                        n, j = leb(body, j)
                        names[idx] = body[j : j + n].decode("utf-8", "replace")
                        j += n
                i += size
    return [(names.get(imported + k, f"<unnamed {imported + k}>"), s) for k, s in enumerate(bodies)]


ESCAPES = {"$LT$": "<", "$GT$": ">", "$u20$": " ", "$RF$": "&", "$BP$": "*", "$LP$": "(",
           "$RP$": ")", "$C$": ",", "$u7b$": "{", "$u7d$": "}", "$u27$": "'", "$u5b$": "[",
           "$u5d$": "]", "$u3b$": ";", "$u7e$": "~", "$u21$": "!", "$u3d$": "="}


def demangle(name):
    """Rust's legacy mangling (`_ZN..E`); anything else is returned as it is."""
    if not name.startswith("_ZN"):
        return name
    i, parts = 3, []
    while i < len(name) and name[i].isdigit():
        j = i
        while name[j].isdigit():
            j += 1
        n = int(name[i:j])
        part = name[j : j + n]
        i = j + n
        if re.fullmatch(r"h[0-9a-f]{16}", part):
            break
        part = part.removeprefix("_") if part.startswith("_$") else part
        for k, v in ESCAPES.items():
            part = part.replace(k, v)
        parts.append(part.replace("..", "::"))
    return "::".join(parts)


def crate_of(path):
    if path.startswith("_R"):  # Rust's v0 mangling (the prebuilt std): its first crate
        found = re.search(r"C(?:s[0-9A-Za-z]*_)?(\d+)", path)
        return path[found.end() : found.end() + int(found.group(1))] if found else "<other>"
    if path.startswith("<"):
        depth, i = 0, 0
        for i, c in enumerate(path):
            depth += c == "<"
            depth -= c == ">"
            if depth == 0:
                break
        inner = path[1:i]
        self_ty, _, trait = inner.partition(" as ")
        self_ty = re.sub(r"^(&|\*|mut |const |dyn |\[|\()+", "", self_ty)
        if "::" in self_ty.split("<")[0]:
            return crate_of(self_ty)
        return crate_of(trait) if trait else "<primitive>"
    if "::" not in path:
        return "<other>"
    return path.split("::")[0]


DESCRIPTORS = ("__wbindgen_describe", "WasmDescribe", "wasm_bindgen::describe")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wasm")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--functions", help="list the largest functions of this crate")
    args = parser.parse_args()
    # wasm-bindgen reads its type descriptors out of the module and removes them.
    functions = [
        (name, size)
        for name, size in ((demangle(n), s) for n, s in read_module(args.wasm))
        if not any(mark in name for mark in DESCRIPTORS)
    ]
    total = sum(s for _, s in functions)
    if args.functions:
        mine = sorted(((s, n) for n, s in functions if crate_of(n) == args.functions), reverse=True)
        for s, n in mine[: args.top]:
            print(f"{s:>8}  {n[:160]}")
        return
    by_crate = collections.Counter()
    for name, size in functions:
        by_crate[crate_of(name)] += size
    print(f"| crate | code bytes | share |\n|---|---:|---:|")
    for crate, size in by_crate.most_common(args.top):
        print(f"| {crate} | {size:,} | {100 * size / total:.1f}% |")
    rest = total - sum(s for _, s in by_crate.most_common(args.top))
    if rest:
        print(f"| (other crates) | {rest:,} | {100 * rest / total:.1f}% |")
    print(f"| **all code** | **{total:,}** | {len(functions):,} functions |")


if __name__ == "__main__":
    sys.exit(main())
