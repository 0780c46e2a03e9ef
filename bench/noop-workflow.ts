/** A workflow that does nothing: the platform's own floor, measured beside the real one. */
export async function benchNoop(): Promise<string> {
  return Promise.resolve('ok');
}
