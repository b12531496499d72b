"""The demo accounts `make run` creates and prints. Development only: these passwords are public."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str


DEMO_ACCOUNTS = [
    DemoAccount("requester", "requester", "demo-requester-pass"),
    DemoAccount("alice", "worker", "demo-worker-pass"),
    DemoAccount("bob", "worker", "demo-worker-pass"),
    DemoAccount("chen", "worker", "demo-worker-pass"),
    DemoAccount("admin", "admin", "demo-admin-pass"),
]
