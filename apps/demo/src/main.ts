import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createDemoApp } from './bootstrap.js';
import { loadDemoConfig } from './config/demo-config.js';

const config = loadDemoConfig();
const app = await createDemoApp(config);
await app.listen(config.port, config.host);
new Logger('Demo').log(`Listening on http://${config.host}:${config.port} (${config.httpAdapter})`);
