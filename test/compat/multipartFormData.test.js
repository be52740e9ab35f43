'use strict';
// Mirrors cycletls 2.0.5 tests/multipartFormData.test.ts: 2 of its 2 tests (a `form-data` FormData with text fields,
// and with a file read from disk, posted to httpbin over http://), against the local httpbin stand-in.
const fs = require('node:fs');
const path = require('node:path');
const FormData = require('form-data');
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');

const env = compatSuite({ httpbin: () => startHttpbin({ tls: false }) }, { client: { port: 9614 } });

test('text fields arrive as the form', async () => {
  const formData = new FormData();
  formData.append('key1', 'value1');
  formData.append('key2', 'value2');
  const response = await env.cycleTLS(env.httpbin.url('/post'), { body: formData }, 'post');
  expect(response.status).toBe(200);
  const body = typeof response.data === 'string' ? JSON.parse(response.data) : response.data;
  expect(body.form).toEqual({ key1: 'value1', key2: 'value2' });
});

test('a file read from disk arrives among the files', async () => {
  const formData = new FormData();
  formData.append('file', fs.createReadStream(path.join(__dirname, 'fixtures', 'upload.txt')));
  const response = await env.cycleTLS(
    env.httpbin.url('/post'),
    { body: formData, headers: formData.getHeaders() },
    'post',
  );
  expect(response.status).toBe(200);
  const body = typeof response.data === 'string' ? JSON.parse(response.data) : response.data;
  expect(body.files).toBeDefined();
  expect(body.files.file).toContain('./cycletls');
});
