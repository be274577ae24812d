import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { z } from "zod";
import { logger } from "./log";

/**
 * The datastreamer stand-in's outward half: every notice the handlers send to the datastream queue goes, in its
 * `{topic, site, data}` shape, to the WebSocket clients of `/stream` (all of them, or those that asked for `?site=`).
 */
const noticeSchema = z.object({ topic: z.string(), site: z.string(), data: z.unknown() });

export interface NoticeStream {
  /** Takes an HTTP upgrade for `/stream`; false when the request is not for it. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Sends one queue message body to the clients; bodies that are not notices are logged and dropped. */
  publish(body: string): void;
  clientCount(): number;
  close(): Promise<void>;
}

export function createNoticeStream(path = "/stream"): NoticeStream {
  const server = new WebSocketServer({ noServer: true });
  const siteOf = new WeakMap<WebSocket, string | undefined>();

  return {
    handleUpgrade(request, socket, head) {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (url.pathname !== path) return false;
      server.handleUpgrade(request, socket, head, (client) => {
        siteOf.set(client, url.searchParams.get("site") ?? undefined);
        client.on("error", (error) => logger.warn("a /stream client failed", { error: error.message }));
        server.emit("connection", client, request);
      });
      return true;
    },
    publish(body) {
      let notice: z.infer<typeof noticeSchema>;
      try {
        notice = noticeSchema.parse(JSON.parse(body));
      } catch (error) {
        if (!(error instanceof SyntaxError || error instanceof z.ZodError)) throw error;
        logger.warn("the datastream queue received something that is not a notice", { body: body.slice(0, 200) });
        return;
      }
      for (const client of server.clients) {
        const site = siteOf.get(client);
        if (client.readyState === client.OPEN && (site === undefined || site === notice.site)) client.send(body);
      }
    },
    clientCount: () => server.clients.size,
    close() {
      for (const client of server.clients) client.terminate();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
