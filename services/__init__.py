"""Domain logic: plain values in, plain values or models out; no `request`, no `jsonify`."""
