// The agent's registry transport: node:http(s) into the shared wiring
// (shared/registry/node-transport.ts), which shared/ cannot import itself.
import http from 'node:http';
import https from 'node:https';
import { nodeTransport } from '../../shared/registry/node-transport.js';

export const send = nodeTransport((url, options) => (url.protocol === 'https:' ? https : http).request(url, options));
