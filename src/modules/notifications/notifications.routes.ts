// /beta/admin/webhooks (subscriptions, their delivery log, a test delivery) and
// /beta/admin/notificationSettings (SMTP, administrator addresses, the MDM webhook) — EUX-3, MDM-1.
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { contextUrl } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import type { NotificationsService } from "./notifications.service.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const tags = ["notifications"];
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const CreateSubscription = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    eventTypes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 })),
  },
  { additionalProperties: false },
);

const SettingsPatch = Type.Object(
  {
    smtpUrl: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
    mailFrom: Type.Optional(Nullable(Type.String({ maxLength: 320 }))),
    adminEmails: Type.Optional(
      Type.Array(Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$", maxLength: 320 }), { maxItems: 100 }),
    ),
    mdmWebhookUrl: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
    mdmWebhookSecret: Type.Optional(Nullable(Type.String({ minLength: 16, maxLength: 500 }))),
  },
  { additionalProperties: false },
);

export function registerNotificationsRoutes(app: App, deps: { notificationsService: NotificationsService }) {
  const svc = deps.notificationsService;
  app.get(
    "/admin/notificationSettings",
    {
      config: { access: "notifications.manage" },
      schema: {
        tags,
        summary:
          "Notification delivery settings (SMTP server host, sender, administrator addresses, MDM webhook); secrets are never shown",
      },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/notificationSettings/$entity"),
      ...(await svc.getSettings(ctxOf(req))),
    }),
  );
  app.patch(
    "/admin/notificationSettings",
    {
      config: { access: "notifications.manage" },
      schema: {
        tags,
        summary: "Update notification delivery settings (null clears a value)",
        body: SettingsPatch,
      },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/notificationSettings/$entity"),
      ...(await svc.updateSettings(ctxOf(req), req.body)),
    }),
  );
  app.get(
    "/admin/webhooks",
    { config: { access: "notifications.manage" }, schema: { tags, summary: "List webhook subscriptions" } },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/webhooks"),
      value: await svc.listSubscriptions(ctxOf(req)),
    }),
  );
  app.post(
    "/admin/webhooks",
    {
      config: { access: "notifications.manage" },
      schema: {
        tags,
        summary:
          "Create a webhook subscription; the HMAC-SHA256 signing secret is returned once, in this response",
        body: CreateSubscription,
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send({
          "@odata.context": contextUrl(req, "admin/webhooks/$entity"),
          ...(await svc.createSubscription(ctxOf(req), req.body)),
        }),
  );
  app.get(
    "/admin/webhooks/:id",
    {
      config: { access: "notifications.manage" },
      schema: { tags, summary: "Get a webhook subscription", params: IdParam },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/webhooks/$entity"),
      ...(await svc.getSubscription(ctxOf(req), req.params.id)),
    }),
  );
  app.delete(
    "/admin/webhooks/:id",
    {
      config: { access: "notifications.manage" },
      schema: { tags, summary: "Delete a webhook subscription", params: IdParam },
    },
    async (req, reply) => {
      await svc.deleteSubscription(ctxOf(req), req.params.id);
      return reply.status(204).send();
    },
  );
  app.get(
    "/admin/webhooks/:id/deliveries",
    {
      config: { access: "notifications.manage" },
      schema: {
        tags,
        summary: "Delivery log of a subscription, newest first, with every attempt",
        params: IdParam,
        // Query strings are not coerced (server.ts): digits, 1–1000.
        querystring: Type.Object({
          $top: Type.Optional(Type.String({ pattern: "^(1000|[1-9][0-9]{0,2})$", description: "1–1000, default 100" })),
        }),
      },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, `admin/webhooks('${req.params.id}')/deliveries`),
      value: await svc.listDeliveries(
        ctxOf(req),
        req.params.id,
        req.query.$top === undefined ? 100 : Number(req.query.$top),
      ),
    }),
  );
  app.post(
    "/admin/webhooks/:id/test",
    {
      config: { access: "notifications.manage" },
      schema: { tags, summary: "Queue a test delivery to this subscription", params: IdParam },
    },
    async (req, reply) => reply.status(202).send(await svc.testSubscription(ctxOf(req), req.params.id)),
  );
}
