"""Print docs/settings.md's settings table from settings.SETTINGS (run after adding a setting)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import settings  # noqa: E402

print("| key (config.json path) | env | default | DB-overridable | what |")
print("|---|---|---|---|---|")
for key, s in sorted(settings.SETTINGS.items()):
    default = json.dumps(s.default)
    print(f"| `{key}` | `{s.env or '-'}` | `{default}` | {'yes' if s.runtime else 'no'} | {s.help} |")
