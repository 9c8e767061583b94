"""Fill ${NAME} placeholders of a template from the environment, as the nginx image's envsubst step does.

Only UPPER_CASE names that are set are replaced, so nginx's own $variables stay as they are.
Usage: python scripts/render_template.py TEMPLATE OUTPUT NAME [NAME ...]  (each NAME must be set)
"""

import os
import re
import sys


def render(text: str, names: list[str], environ: dict[str, str]) -> str:
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise SystemExit(f"render_template: not set: {', '.join(missing)}")
    wanted = set(names)

    def fill(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return environ[name] if name in wanted else match.group(0)

    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}|\$([A-Z][A-Z0-9_]*)\b", fill, text)


if __name__ == "__main__":
    template, output, *names = sys.argv[1:]
    with open(template) as source, open(output, "w") as target:
        target.write(render(source.read(), names, dict(os.environ)))
