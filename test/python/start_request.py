"""Start orchestrateRequest by name from Temporal's Python SDK, as a user of another SDK would.

    python start_request.py <address> <task-queue> <workflow-id> <request-json> [--again] [--no-codec]

Starts the workflow with the given id and waits for its result; with --again, starts the SAME id
again after the first run completed (the default reuse policy allows a second run) and waits for
that one too. Prints one JSON line: each run's id and its result, or its failure's type and message.

The client encrypts and decrypts payloads with the orchestrator's codec
(clients/python/orchestrator_codec.py), keys from PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, as the
worker's. With --no-codec it uses the SDK's default converter and reports what reading the
worker's encrypted result does: {"runId", "readError": {"type", "message"}}.
"""

import asyncio
import dataclasses
import json
import os
import sys

import temporalio.converter
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
from orchestrator_codec import OrchestratorPayloadCodec  # noqa: E402


async def run_once(client: Client, task_queue: str, workflow_id: str, request: dict) -> dict:
    handle = await client.start_workflow("orchestrateRequest", request, id=workflow_id, task_queue=task_queue)
    try:
        result = await handle.result()
        return {"runId": handle.result_run_id, "result": result}
    except WorkflowFailureError as err:
        cause = err.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.cause
        return {
            "runId": handle.result_run_id,
            "failure": {"type": getattr(cause, "type", None), "message": str(cause) if cause else str(err)},
        }
    except Exception as err:  # the result could not be read (e.g. encrypted, without the codec)
        return {"runId": handle.result_run_id, "readError": {"type": type(err).__name__, "message": str(err)}}


async def main() -> None:
    address, task_queue, workflow_id, request_json = sys.argv[1:5]
    flags = sys.argv[5:]
    again = "--again" in flags
    request = json.loads(request_json)
    if "--no-codec" in flags:
        client = await Client.connect(address)
    else:
        codec = OrchestratorPayloadCodec.from_env()
        client = await Client.connect(address, data_converter=dataclasses.replace(temporalio.converter.DataConverter.default, payload_codec=codec))
    runs = [await run_once(client, task_queue, workflow_id, request)]
    if again:
        second = dict(request)
        if "--different-user" in flags:
            second["userId"] = second["userId"] + "-other"
        runs.append(await run_once(client, task_queue, workflow_id, second))
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    asyncio.run(main())
    # The SDK's Rust core threads can still be winding down while the interpreter finalizes, which
    # now and then aborts with "PyGILState_Release ... finalizing" after the work is done and
    # printed: leave without interpreter finalization, once the output is flushed.
    sys.stdout.flush()
    os._exit(0)
