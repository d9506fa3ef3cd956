import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeraldError } from '../errors.ts';
import { parseJsonBody } from './json-body.ts';
import { findUnsafeNumbers, unsafeNumberReason } from './json-numbers.ts';

const paths = (text: string) => findUnsafeNumbers(text).map((problem) => problem.path);

test('numbers a double cannot hold unaltered are unsafe; ones that merely round are not', () => {
  for (const token of ['1e400', '-1e400', '1E+309', '1e-400', '-2.5e-999', '0.0000001e-330']) {
    assert.notEqual(unsafeNumberReason(token), null, token);
  }
  for (const token of ['9007199254740992', '9007199254740993', '-9007199254740993', '123456789012345678901234567890']) {
    assert.match(unsafeNumberReason(token) ?? '', /as strings/, token);
  }
  assert.match(unsafeNumberReason('1e400') ?? '', /would become Infinity/);
  assert.match(unsafeNumberReason('-1e400') ?? '', /would become -Infinity/);
  assert.match(unsafeNumberReason('1e-400') ?? '', /would become 0/);
  for (const token of [
    '0',
    '-0',
    '0e400',
    '0.000e-999',
    '1.5',
    '0.1',
    '9007199254740991',
    '-9007199254740991',
    '1e300',
    '1.7976931348623157e308',
    '5e-324',
    '1e20',
    '9007199254740993.5',
    '0.30000000000000000000000000000001',
  ]) {
    assert.equal(unsafeNumberReason(token), null, token);
  }
});

test('each unsafe number is located by JSON pointer; strings and keys that look like numbers are not numbers', () => {
  assert.deepEqual(paths('{"n":1e400}'), ['/n']);
  assert.deepEqual(paths('1e400'), ['']);
  assert.deepEqual(paths('[1, 2, [3, 9007199254740993]]'), ['/2/1']);
  assert.deepEqual(paths('{"a":{"b":[{"c":1},{"d/e~f":-1e-400}]}}'), ['/a/b/1/d~1e~0f']);
  assert.deepEqual(paths('{"1e400":"1e400","x":["9007199254740993"],"k\\"e":1e999}'), ['/k"e']);
  assert.deepEqual(paths('{"a":1e400,"b":[1e400,2],"c":1}'), ['/a', '/b/0']);
  assert.deepEqual(paths('{"s":"\\\\","n" : 12345678901234567890 }'), ['/n']);
  assert.deepEqual(paths('{"a":[],"b":{},"c":[{}],"d":1e-999}'), ['/d']);
  assert.deepEqual(paths('{"id":"0123456789abcdef0123456789e123","n":1.5,"t":true,"z":null}'), []);
  assert.deepEqual(paths('\n 1e400\n'), ['']);
  assert.deepEqual(paths('{"s":" 1e400 ","t":"a\\" 9007199254740993 ","n":[ 9007199254740993 ]}'), ['/n/0']);
  assert.deepEqual(paths('{"s":"\\\\", "n": 1e400}'), ['/n']);
});

test('an unsafe number is found at every offset, after any string', () => {
  for (const token of ['1e400', '-1E+400', '1e-400', '9007199254740993', '0.0000000000000000000001e-999']) {
    for (let pad = 0; pad < 8; pad++) {
      for (const before of ['', '"1234", ', '"e12", 123, ']) {
        const text = `[${before}${' '.repeat(pad)}${token}]`;
        assert.deepEqual(paths(text), [before === '' ? '/0' : before.startsWith('"1234"') ? '/1' : '/2'], text);
      }
    }
  }
});

test('a body of a thousand unsafe numbers reports only the first twenty', () => {
  assert.equal(findUnsafeNumbers(`[${Array(1000).fill('1e400').join(',')}]`).length, 20);
});

test('parseJsonBody refuses unsafe numbers with a 400 naming the path, and keeps every safe one exact', () => {
  assert.throws(
    () => parseJsonBody('{"events":[{"type":"t","data":{"n":1e400}}]}'),
    (error: unknown) =>
      error instanceof HeraldError &&
      error.status === 400 &&
      /\/events\/0\/data\/n/.test(error.message) &&
      /1e400/.test(error.message) &&
      error.errors?.[0]?.path === '/events/0/data/n',
  );
  assert.deepEqual(parseJsonBody('{"a":1.5,"b":0.1,"c":9007199254740991,"d":1e300,"e":"1e400"}'), {
    a: 1.5,
    b: 0.1,
    c: 9007199254740991,
    d: 1e300,
    e: '1e400',
  });
});

/** A random JSON text and the paths of the unsafe numbers placed in it. */
function randomDocument(random: () => number): { text: string; unsafe: string[] } {
  const safe = ['0', '-1', '1.5', '0.1', '1e300', '9007199254740991', '-0.0e-999', '5e-324', '1e20'];
  const bad = ['1e400', '-1e400', '1e-400', '9007199254740993', '-12345678901234567890'];
  const strings = [
    '"1e400"',
    '"9007199254740993"',
    '"a\\"b"',
    '"\\\\"',
    '"[{,:"',
    '"e123"',
    // Look like numbers from close up: only the string they are in says otherwise.
    '" 1e400 "',
    '"[9007199254740993]"',
    '"a\\" 12345678901234567890 "',
    '"\\\\\\", 1e-999, "',
  ];
  const unsafe: string[] = [];
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)] as T;
  const value = (path: string, depth: number): string => {
    const roll = random();
    if (depth < 4 && roll < 0.2) {
      const n = Math.floor(random() * 4);
      return `[${Array.from({ length: n }, (_, i) => value(`${path}/${i}`, depth + 1)).join(', ')}]`;
    }
    if (depth < 4 && roll < 0.4) {
      const n = Math.floor(random() * 4);
      const keys = Array.from({ length: n }, (_, i) => `${pick(['k', 'a/b', 't~', '1e400', 'q"'])}${i}`);
      const members = keys.map((key) => {
        const pointer = key.replaceAll('~', '~0').replaceAll('/', '~1');
        return `${JSON.stringify(key)} :${value(`${path}/${pointer}`, depth + 1)}`;
      });
      return `{${members.join(',')}}`;
    }
    if (roll < 0.55) {
      unsafe.push(path);
      return pick(bad);
    }
    if (roll < 0.75) return pick(safe);
    if (roll < 0.9) return pick(strings);
    return pick(['true', 'false', 'null']);
  };
  const text = value('', 0);
  return { text, unsafe };
}

test('finds exactly the unsafe numbers placed in 5,000 random documents', () => {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  for (let n = 0; n < 5000; n++) {
    const { text, unsafe } = randomDocument(random);
    JSON.parse(text);
    assert.deepEqual(paths(text), unsafe.slice(0, 20), text);
  }
});
