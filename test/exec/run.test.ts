import { describe, expect, it } from 'vitest';
import { CommandError, run, toCommandError } from '../../lib/exec/run.ts';

describe('run', () => {
  it('returns stdout and stderr without the final newline', async () => {
    expect(await run('sh', ['-c', 'echo out; echo err >&2'])).toEqual({ stdout: 'out', stderr: 'err' });
  });

  it('pipes a string or a Buffer into stdin', async () => {
    expect((await run('cat', [], { input: 'from a string' })).stdout).toBe('from a string');
    expect((await run('cat', [], { input: Buffer.from('from a buffer') })).stdout).toBe('from a buffer');
  });

  it('names the command, its exit code and the end of its stderr when it fails', async () => {
    const failing = run('sh', ['-c', 'echo one >&2; echo two >&2; exit 3']);
    await expect(failing).rejects.toBeInstanceOf(CommandError);
    await expect(failing).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      exitCode: 3,
      stderr: 'one\ntwo',
      command: 'sh -c echo one >&2; echo two >&2; exit 3',
      message: 'sh -c echo one >&2; echo two >&2; exit 3: exit code 3: one\ntwo',
      subject: 'sh -c echo one >&2; echo two >&2; exit 3',
      reason: 'exit code 3: one\ntwo',
    });
  });

  it('reports a program that is not installed as TOOL_MISSING, naming it', async () => {
    await expect(run('airlock-no-such-tool', ['--version'])).rejects.toMatchObject({
      code: 'TOOL_MISSING',
      exitCode: undefined,
      message: 'airlock-no-such-tool: not found on PATH (spawn ENOENT)',
      subject: 'airlock-no-such-tool',
    });
  });

  it('decides TOOL_MISSING from the error code, not from ENOENT in the text', async () => {
    // The command line holds "ENOENT", the command exists and times out: that is a failed command.
    await expect(run('sh', ['-c', 'sleep 5', 'ENOENT'], { timeout: 200 })).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: 'sh -c sleep 5 ENOENT: timed out',
    });
    await expect(run('sh', ['-c', 'echo "open x: ENOENT" >&2; exit 1'])).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      exitCode: 1,
    });
  });

  it('says canceled when the caller aborts', async () => {
    const controller = new AbortController();
    const running = run('sleep', ['5'], { signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'sleep 5: canceled' });
  });
});

describe('toCommandError', () => {
  it('keeps a CommandError as it is', () => {
    const error = new CommandError('ctr images ls', 1, 'boom', 'ctr images ls: exit code 1: boom');
    expect(toCommandError('other', error)).toBe(error);
  });
});
