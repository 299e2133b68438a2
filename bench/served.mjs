// What the router serves for a host right now: the body of a 200, else ''.
import http from 'node:http';

export function served(ip, port, host) {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : ''));
    });
    req.on('error', () => resolve(''));
  });
}
