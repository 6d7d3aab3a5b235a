// Marketing: segments with their live size, the campaign builder and its results, the loyalty
// card lookup, and (admins, dev profile) the outbox of everything the suite sent.
import { api, session } from "../api.js";
import { h, replace } from "../dom.js";
import { field, formAlert, onSubmit, selectInput, submitButton, textInput } from "../forms.js";
import { dateTime, label, number, t } from "../i18n.js";
import { empty, problemBox, table, toast } from "./common.js";

const MARKETERS = new Set(["admin", "marketer"]);
export const canMarket = {
  read: (me) => me.role !== "system",
  manage: (me) => MARKETERS.has(me.role),
  loyalty: (me) => !["hq_analyst", "partner", "channel_manager", "customer", "system"].includes(me.role),
  outbox: (me) => me.role === "admin",
};

const list = (text) => (text || "").split(",").map((item) => item.trim()).filter(Boolean);

export async function segmentsView(root) {
  const body = h("div");
  const parts = [h("h1", {}, t("marketing.segments")), body];
  const me = session.me;
  if (canMarket.manage(me)) {
    const form = onSubmit(h("form", { class: "card", "aria-labelledby": "segment-new" },
      h("h2", { id: "segment-new" }, t("marketing.new_segment")), formAlert(),
      field("name", t("marketing.name"), textInput(), { required: true }),
      field("region_codes", t("marketing.regions"), textInput({ placeholder: "KZ-75, KZ-35" })),
      field("kinds", t("customer.kind"), selectInput([["", t("marketing.any")], ["individual", label("kind", "individual")], ["business", label("kind", "business")]], "")),
      field("languages", t("marketing.languages"), textInput({ placeholder: "kk, ru" })),
      field("product_lines", t("marketing.product_lines"), textInput({ placeholder: "internet" })),
      submitButton(t("marketing.create"))), async (values) => {
      const criteria = {
        region_codes: list(values.region_codes), kinds: list(values.kinds),
        languages: list(values.languages), product_lines: list(values.product_lines),
      };
      const segment = await api("marketing/segments", { method: "POST", body: { name: values.name || "", criteria } });
      toast(t("marketing.segment_created", { size: number(segment.size) }));
      await segmentsView(root);
    }, { prefix: "criteria." });
    parts.push(form);
  }
  replace(root, ...parts);
  try {
    const page = await api("marketing/segments", { query: { limit: 100 } });
    replace(body, page.items.length ? table([t("marketing.name"), t("marketing.criteria"), t("marketing.size")],
      page.items.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, criteriaText(s.criteria)),
        h("td", { class: "num", "data-segment-size": s.id }, number(s.size))))) : empty(t("common.none")));
  } catch (error) {
    replace(body, problemBox(error));
  }
}

function criteriaText(criteria) {
  return Object.entries(criteria || {}).filter(([, v]) => (Array.isArray(v) ? v.length : v !== null))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join("; ") || t("marketing.everyone");
}

export async function campaignsView(root) {
  const body = h("div");
  const parts = [h("h1", {}, t("marketing.campaigns")), body];
  const me = session.me;
  if (canMarket.manage(me)) {
    let segments = [];
    try { segments = (await api("marketing/segments", { query: { limit: 100 } })).items; } catch { segments = []; }
    const form = onSubmit(h("form", { class: "card", "aria-labelledby": "campaign-new" },
      h("h2", { id: "campaign-new" }, t("marketing.new_campaign")), formAlert(),
      field("name", t("marketing.name"), textInput(), { required: true }),
      field("segment_id", t("marketing.segment"), selectInput(segments.map((s) => [s.id, `${s.name} (${number(s.size)})`]), segments[0]?.id)),
      field("channel", t("marketing.channel"), selectInput([["sms", "SMS"], ["email", "E-mail"]], "sms")),
      field("message.kk", t("marketing.message_kk"), h("textarea", { rows: 2 })),
      field("message.ru", t("marketing.message_ru"), h("textarea", { rows: 2 })),
      field("message.en", t("marketing.message_en"), h("textarea", { rows: 2 })),
      submitButton(t("marketing.create"))), async (values) => {
      const message = {};
      for (const code of ["kk", "ru", "en"]) if (values[`message.${code}`]) message[code] = values[`message.${code}`];
      await api("marketing/campaigns", { method: "POST",
        body: { name: values.name || "", segment_id: values.segment_id || "", channel: values.channel, message } });
      toast(t("marketing.campaign_created"));
      await campaignsView(root);
    });
    parts.push(form);
  }
  replace(root, ...parts);
  try {
    const page = await api("marketing/campaigns", { query: { limit: 100 } });
    const columns = [t("marketing.name"), t("marketing.channel"), t("marketing.status"),
      ...["targeted", "sent", "delivered", "failed", "suppressed", "responded", "converted", "opted_out"].map((k) => t(`marketing.stat_${k}`)), ""];
    replace(body, page.items.length ? table(columns, page.items.map((c) => h("tr", { "data-campaign": c.id },
      h("td", {}, c.name), h("td", {}, c.channel.toUpperCase()), h("td", {}, t(`marketing.status_${c.status}`)),
      ["targeted", "sent", "delivered", "failed", "suppressed", "responded", "converted", "opted_out"].map((k) => h("td", { class: "num" }, number(c.stats[k]))),
      h("td", {}, c.status === "draft" && canMarket.manage(me) ? h("button", { type: "button", onclick: async () => {
        try {
          await api(`marketing/campaigns/${c.id}/launch`, { method: "POST" });
          toast(t("marketing.launched"));
          await campaignsView(root);
        } catch (error) { toast(error.message); }
      } }, t("marketing.launch")) : null)))) : empty(t("common.none")));
  } catch (error) {
    replace(body, problemBox(error));
  }
}

export function loyaltyCard(account) {
  return h("dl", { class: "loyalty" },
    h("dt", {}, t("loyalty.card")), h("dd", { "data-card": account.card_number }, account.card_number),
    h("dt", {}, t("loyalty.tier")), h("dd", {}, t(`loyalty.tier_${account.tier}`)),
    h("dt", {}, t("loyalty.points")), h("dd", { "data-points": account.points }, number(account.points)));
}

export async function loyaltyView(root) {
  const result = h("div", { "aria-live": "polite" });
  const form = onSubmit(h("form", { class: "card", "aria-labelledby": "card-lookup" },
    h("h2", { id: "card-lookup" }, t("loyalty.lookup")), formAlert(),
    field("card_number", t("loyalty.card"), textInput({ inputmode: "numeric" }), { required: true }),
    submitButton(t("loyalty.find"))), async (values) => {
    const account = await api(`marketing/loyalty/cards/${encodeURIComponent(values.card_number || "-")}`);
    replace(result, loyaltyCard(account),
      h("p", {}, h("a", { href: `#/customers/${account.customer_id}` }, t("loyalty.open_customer"))));
  });
  replace(root, h("h1", {}, t("loyalty.title")), form, result);
}

export async function outboxView(root) {
  const body = h("div");
  const form = onSubmit(h("form", { class: "card" }, formAlert(),
    field("to", t("outbox.to"), textInput()), submitButton(t("outbox.show"))), async (values) => {
    await show(values.to);
  });
  async function show(to) {
    try {
      const answer = await api("admin/dev-outbox", { query: { to } });
      replace(body, answer.items.length ? table([t("outbox.sent_at"), t("marketing.channel"), t("outbox.to"), t("outbox.subject"), t("outbox.body")],
        answer.items.map((m) => h("tr", {}, h("td", {}, dateTime(m.sent_at)), h("td", {}, m.channel.toUpperCase()),
          h("td", {}, m.to), h("td", {}, m.subject), h("td", {}, m.body)))) : empty(t("common.none")));
    } catch (error) {
      replace(body, problemBox(error));
    }
  }
  replace(root, h("h1", {}, t("outbox.title")), h("p", { class: "hint" }, t("outbox.hint")), form, body);
  await show("");
}
