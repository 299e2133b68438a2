// The CLI's registry transport: node:http(s), which the agent client has loaded
// already, where fetch would load undici. shared/registry/ holds the rules.
import http from 'node:http';
import https from 'node:https';
import { nodeTransport } from '../shared/registry/node-transport.js';

export const send = nodeTransport((url, options) => (url.protocol === 'https:' ? https : http).request(url, options));
