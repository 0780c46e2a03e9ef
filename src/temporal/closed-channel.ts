/**
 * gRPC interceptors for every Temporal client connection: the SDK's default retry interceptor, and
 * under it a guard for a retry that fires after the connection was closed.
 *
 * The SDK's retry interceptor (@temporalio/client grpc-retry) schedules each retry with a plain
 * setTimeout. When the connection is closed in between (a worker or gateway shutting down while a
 * query or a readiness probe is backing off after UNAVAILABLE), the timer creates a call on the
 * closed channel, grpc-js throws "Channel has been shut down" from the timer, and the process gets
 * an uncaught exception. The guard turns that into what it is: the call ends with CANCELLED
 * ("connection closed"), which the retry interceptor does not retry, so the caller's promise
 * rejects and nothing is thrown from a timer.
 */
import { InterceptingCall, Metadata, status, type Interceptor, type InterceptingListener } from '@grpc/grpc-js';
import type { InterceptingCallInterface } from '@grpc/grpc-js/build/src/client-interceptors';
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

const CLOSED = /Channel has been shut down/;

/** A call that never reaches the network and ends with CANCELLED as soon as it is started. */
function closedCall(): InterceptingCallInterface {
  return {
    start(_metadata: Metadata, listener?: Partial<InterceptingListener>) {
      setImmediate(() => listener?.onReceiveStatus?.({ code: status.CANCELLED, details: 'connection closed', metadata: new Metadata() }));
    },
    cancelWithStatus() {},
    getPeer: () => '',
    sendMessageWithContext() {},
    sendMessage() {},
    startRead() {},
    halfClose() {},
    getAuthContext: () => null,
  };
}

export const closedChannelGuard: Interceptor = (options, nextCall) => {
  try {
    return new InterceptingCall(nextCall(options));
  } catch (err) {
    if (!CLOSED.test((err as Error).message)) throw err;
    return new InterceptingCall(closedCall());
  }
};

/** The interceptors a Temporal client Connection gets: the SDK's default retries, then the guard. */
export function clientGrpcInterceptors(): Interceptor[] {
  return [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), closedChannelGuard];
}
