"""``holysheep emulate`` for agents and load tests: request log, any key, tools, many clients."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from holysheep import HolySheepClient

from ..emulate_cli import running_emulate

SECRET = "sk-live-a-real-looking-key-123456"


def test_it_says_any_key_works_and_logs_each_request_without_the_key() -> None:
    with running_emulate() as proc:
        assert "any API key works" in proc.output()
        with HolySheepClient(api_key=SECRET, base_url=proc.url) as client:
            client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hello there"}])
            ask = [{"role": "user", "content": "x"}]
            with client.stream(model="deepseek-v3.2", messages=ask) as stream:
                assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        chat = proc.wait_for("chat gpt-4.1")
        assert " tokens, $0.0000" in chat and "relay ¥" in chat  # sub-cent, still non-zero
        proc.wait_for("stream deepseek-v3.2")
        httpx.post(f"{proc.url}/chat/completions", json={"model": "nope"})  # no key at all
        proc.wait_for("HTTP 401")
    assert SECRET not in proc.output() and SECRET[-6:] not in proc.output()


def test_a_required_key_is_announced() -> None:
    with running_emulate("--api-key", SECRET, "--quiet") as proc:
        assert "only the key given with --api-key works" in proc.output()
        assert SECRET not in proc.output()


def test_tools_auto_calls_the_offered_tool_once_then_answers_with_its_result() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            },
        },
    }
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    with running_emulate("--tools", "auto") as proc, HolySheepClient(
        api_key="any", base_url=proc.url
    ) as client:
        first = client.chat(model="gpt-4.1", messages=ask, tools=[tool])
        (call,) = first.choices[0].message.tool_calls
        assert call.function.name == "weather"
        assert call.function.arguments == '{"city":"example","days":1}'
        history = [
            *ask,
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"},
        ]
        second = client.chat(model="gpt-4.1", messages=history, tools=[tool])
        assert second.choices[0].message.tool_calls in (None, [])
        assert "sunny, 24 C" in second.text
        proc.wait_for("called weather")
        plain = client.chat(model="gpt-4.1", messages=ask)  # no tools offered: a plain answer
        assert plain.text == "Echo: Weather in Paris?"


def test_it_serves_hundreds_of_concurrent_connections() -> None:
    clients = 300

    async def load(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=None)
        timeout = httpx.Timeout(120, connect=10)  # a dropped SYN would cost >= 1 s per retry
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:

            async def one(i: int) -> int:
                body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": f"q{i}"}]}
                headers = {"authorization": "Bearer any"}
                response = await http.post(f"{url}/chat/completions", json=body, headers=headers)
                return response.status_code

            return await asyncio.gather(*(one(i) for i in range(clients)))

    # each reply waits 0.3 s, so the connections are open at the same time
    with running_emulate("--latency", "0.3", "--quiet") as proc:
        statuses = asyncio.run(load(proc.url))
    assert statuses == [200] * clients


def test_emulate_help_has_a_description_and_defaults() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "holysheep.cli", "emulate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "any key works" in out and "(default: 8765)" in out and "(default: off)" in out


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_demo_says_emulator_on_a_loopback_url(host: str) -> None:
    with running_emulate("--quiet") as proc:
        url = proc.url.replace("127.0.0.1", host)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
        env.update(HOLYSHEEP_API_KEY="any-key", HOLYSHEEP_BASE_URL=url)
        result = subprocess.run(
            [sys.executable, "-m", "holysheep.cli", "demo"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert "relay emulator" in first and url in first
    assert "HolySheep relay (" not in result.stdout
