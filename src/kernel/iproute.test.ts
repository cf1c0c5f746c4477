// What a `link del` batch may report without failing the call: the link being gone already.
import { describe, expect, it } from 'vitest';
import { deleteErrors } from './iproute.js';

describe('deleteErrors', () => {
  it('a link gone before the lookup or between lookup and delete is no error', () => {
    const stderr = ['Cannot find device "gh-0123456789ab"', 'Command failed -:1', 'RTNETLINK answers: No such device', 'Command failed -:2', ''].join('\n');
    expect(deleteErrors(stderr)).toEqual([]);
  });

  it('anything else is', () => {
    expect(deleteErrors('RTNETLINK answers: Operation not permitted\nCommand failed -:1\n')).toEqual(['RTNETLINK answers: Operation not permitted']);
  });
});
