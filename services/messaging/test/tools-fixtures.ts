import type { TemplateComponent } from "@kontor/proto/messaging/v1/message";
import { TemplateCategory, TemplateComponentType, TemplateHeaderFormat, TemplateParameterFormat } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { clientFor, unaryCall } from "@kontor/testkit/grpc";
import { uid } from "./factories.js";

/** Body parameters of a template send, in order. */
export const bodyParams = (...values: string[]): TemplateComponent[] => [
  { type: "body", subType: "", index: 0, parameters: values.map((text) => ({ type: "text", parameterName: "", text, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" })) },
];

/** An APPROVED utility template of the business (two body parameters), approved by the automatic review. */
export async function approvedTemplate(port: number, biz: { businessId: string; token: string }): Promise<string> {
  const templates = clientFor(TemplateServiceClient, port);
  const name = uid("tpl_t_");
  const none = TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED;
  const example = { headerText: [], headerTextNamedParams: [], bodyText: [], bodyTextNamedParams: [], headerHandle: [] };
  try {
    await unaryCall(
      templates.createTemplate.bind(templates),
      {
        businessId: biz.businessId,
        name,
        language: "en_US",
        category: TemplateCategory.TEMPLATE_CATEGORY_UTILITY,
        parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
        components: [
          { type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: none, text: "Hi {{1}}, your order {{2}} has shipped.", example: { ...example, bodyText: [{ values: ["Ana", "A-1"] }] }, buttons: [] },
        ],
      },
      { token: biz.token },
    );
  } finally {
    templates.close();
  }
  return name;
}
