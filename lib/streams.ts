/**
 * A pipeline stage that passes chunks through and reports a failure of the source before rethrowing it: a
 * consumer (ctr, the Docker daemon) that stops reading fails the pipeline too, and only the source's own failure
 * explains a broken import better than the consumer's EOF.
 */
export const watchSource = (onError: (error: unknown) => void) =>
  async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source) yield chunk;
    } catch (error) {
      onError(error);
      throw error;
    }
  };
