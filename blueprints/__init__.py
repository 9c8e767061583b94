"""HTTP only: parse (pydantic) -> authorize -> call a service -> shape the response."""
