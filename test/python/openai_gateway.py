"""Call the gateway with the official OpenAI Python SDK, as an existing application would.

    python openai_gateway.py <base-url> <api-key>

Makes one chat completion and one streamed chat completion; prints one JSON line with what came
back (the answer, usage, the orchestration extension, and the streamed chunks' text).
"""

import json
import sys

from openai import OpenAI


def main() -> None:
    base_url, api_key = sys.argv[1:3]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    completion = client.chat.completions.create(
        model="openai:gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=64,
        extra_body={"orchestration": {"task_type": "question_answering"}},
    )
    extra = completion.model_extra or {}
    chunks = []
    first_extra = None
    for chunk in client.chat.completions.create(
        model="anthropic:claude-haiku-4-5",
        messages=[{"role": "user", "content": "Name a primary colour."}],
        stream=True,
    ):
        if first_extra is None:
            first_extra = chunk.model_extra or {}
        if chunk.choices and chunk.choices[0].delta.content:
            chunks.append(chunk.choices[0].delta.content)
    print(
        json.dumps(
            {
                "id": completion.id,
                "content": completion.choices[0].message.content,
                "finish_reason": completion.choices[0].finish_reason,
                "usage": completion.usage.model_dump() if completion.usage else None,
                "orchestration": extra.get("orchestration"),
                "stream_text": "".join(chunks),
                "stream_chunks": len(chunks),
                "stream_first": first_extra.get("orchestration") if first_extra else None,
            }
        )
    )


if __name__ == "__main__":
    main()
