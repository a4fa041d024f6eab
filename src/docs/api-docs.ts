import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** OpenAPI at /docs (JSON at /docs-json), generated from the controllers and DTOs. */
export function setupApiDocs(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('ordersync')
    .setDescription(
      'Keeps orders in step with 1688 (signed status pushes) and the external order API. ' +
        'Webhooks answer 2xx only once a message is durably queued; 401 bad signature, 400 invalid message, ' +
        '413 too large, 415 wrong content type, 503 when it cannot be queued (send it again).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'a key from API_KEYS (or ADMIN_API_KEYS)' }, 'api-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'a key from ADMIN_API_KEYS' }, 'admin-key')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
