import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePathChars } from '../../../src/engine/device/request-path.ts';

test('only characters a request target cannot carry are percent-encoded', () => {
  assert.equal(encodePathChars('/data?id=1e00&x=a%20b'), '/data?id=1e00&x=a%20b');
  assert.equal(encodePathChars('/users/Zoë Smith/"x"'), '/users/Zo%C3%AB%20Smith/%22x%22');
  assert.equal(encodePathChars('/a{b}|c\\d^e`f<g>'), '/a%7Bb%7D%7Cc%5Cd%5Ee%60f%3Cg%3E');
  assert.equal(encodePathChars('/tab\there'), '/tab%09here');
  assert.equal(encodePathChars('/lone\ud800'), '/lone%EF%BF%BD');
});
