import type { NextFunction, Request, Response } from "express";
import { TesseraError } from "../errors.js";

/** Requests with a body must say it is JSON. */
export function requireJson(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is("application/json")) {
    next(new TesseraError("unsupported_media_type", "send the request body as application/json"));
    return;
  }
  next();
}

/** The parsed body as an object; anything else is a 400. */
export function bodyObject(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TesseraError("bad_request", "request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}
