// Kazakh, Russian and English: the console's words, and numbers, money, dates and phones as each
// language writes them. The choice is the user's (stored by the gateway); before sign-in, the browser's.
import { MESSAGES } from "./messages.js";

export const LANGUAGES = [
  { code: "kk", name: "Қазақша" },
  { code: "ru", name: "Русский" },
  { code: "en", name: "English" },
];
const LOCALES = { kk: "kk-KZ", ru: "ru-KZ", en: "en-GB" };
// Browsers' Kazakh locale data is often missing ("2026 M11 28"), so Kazakh numbers use the
// Kazakhstan conventions they share with ru-KZ (4 990,00 ₸) and dates are written out here.
const NUMBER_LOCALES = { kk: "ru-KZ", ru: "ru-KZ", en: "en-GB" };
const KAZAKH_MONTHS = ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз", "қыркүйек",
  "қазан", "қараша", "желтоқсан"];
const STORED = "crm.console.language";

let language = pickInitial();

function pickInitial() {
  const stored = localStorage.getItem(STORED);
  if (stored in LOCALES) return stored;
  const browser = (navigator.language || "ru").slice(0, 2);
  return browser in LOCALES ? browser : "ru";
}

export function currentLanguage() { return language; }

export function setLanguage(code) {
  if (!(code in LOCALES)) return;
  language = code;
  localStorage.setItem(STORED, code);
  document.documentElement.lang = code;
}

export function t(key, values = {}) {
  const text = MESSAGES[language][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

// A label for an API value (stage, status, role...), or the value itself when there is none.
export function label(group, value) {
  if (value === null || value === undefined) return "";
  const key = `${group}.${value}`;
  return MESSAGES[language][key] ?? MESSAGES.en[key] ?? String(value).replaceAll("_", " ");
}

export function money(tiyn, currency = "KZT") {
  if (tiyn === null || tiyn === undefined) return "";
  return new Intl.NumberFormat(NUMBER_LOCALES[language], { style: "currency", currency }).format(Number(tiyn) / 100);
}

export function number(value) {
  return new Intl.NumberFormat(NUMBER_LOCALES[language]).format(value);
}

function kazakhDate(value) {
  return `${value.getFullYear()} ж. ${value.getDate()} ${KAZAKH_MONTHS[value.getMonth()]}`;
}

function parse(iso) {
  return iso.length === 10 ? new Date(`${iso}T00:00:00`) : new Date(iso);
}

export function date(iso) {
  if (!iso) return "";
  const value = parse(iso);
  if (language === "kk") return kazakhDate(value);
  return new Intl.DateTimeFormat(LOCALES[language], { dateStyle: "medium" }).format(value);
}

// "2027-01" -> "January 2027" / "январь 2027 г." / "2027 ж. қаңтар"
export function monthYear(isoMonth) {
  const value = parse(`${isoMonth}-01`);
  if (language === "kk") return `${value.getFullYear()} ж. ${KAZAKH_MONTHS[value.getMonth()]}`;
  return new Intl.DateTimeFormat(LOCALES[language], { month: "long", year: "numeric" }).format(value);
}

export function dateTime(iso) {
  if (!iso) return "";
  const value = parse(iso);
  if (language === "kk") {
    const time = new Intl.DateTimeFormat("ru-KZ", { timeStyle: "short" }).format(value);
    return `${kazakhDate(value)}, ${time}`;
  }
  return new Intl.DateTimeFormat(LOCALES[language], { dateStyle: "medium", timeStyle: "short" }).format(value);
}

// +77011234567 -> "+7 (701) 123-45-67" (kk, ru) or "+7 701 123 4567" (en)
export function phone(e164) {
  const match = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(e164 || "");
  if (!match) return e164 || "";
  const [, area, a, b, c] = match;
  return language === "en" ? `+7 ${area} ${a} ${b}${c}` : `+7 (${area}) ${a}-${b}-${c}`;
}

export function branchName(branch) {
  return branch ? (branch.name[language] || branch.name.en) : "";
}

// A catalogue offering's name in the console's language (the catalogue has kk, ru and en).
export function offeringName(offering) {
  return (offering.names && offering.names[language]) || offering.name;
}
