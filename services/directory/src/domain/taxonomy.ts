/**
 * The fixed business taxonomy. Codes are `<vertical>.<category>` and never
 * change once published (events and other services store them). Labels and
 * keywords in the five launch languages go into the search document, so
 * "Bäckerei", "padaria" and "toko roti" all find food.bakery businesses.
 */
export interface Category {
  code: string;
  /** English display label. */
  label: string;
  /** Search keywords per language (en, de, pt, es, id); unaccented matching is done by the database. */
  keywords: Record<"en" | "de" | "pt" | "es" | "id", string[]>;
}

const c = (code: string, label: string, en: string[], de: string[], pt: string[], es: string[], id: string[]): Category => ({
  code,
  label,
  keywords: { en, de, pt, es, id },
});

export const CATEGORIES: readonly Category[] = [
  c("food.restaurant", "Restaurant", ["restaurant", "dining"], ["restaurant", "gaststätte"], ["restaurante"], ["restaurante"], ["restoran", "rumah makan"]),
  c("food.cafe", "Café", ["cafe", "coffee"], ["café", "kaffee"], ["café", "cafeteria"], ["cafetería", "café"], ["kedai kopi", "kafe"]),
  c("food.bakery", "Bakery", ["bakery", "bread"], ["bäckerei", "brot"], ["padaria", "pão"], ["panadería", "pan"], ["toko roti", "roti"]),
  c("food.bar", "Bar & pub", ["bar", "pub"], ["bar", "kneipe"], ["bar", "boteco"], ["bar", "taberna"], ["bar"]),
  c("food.street_food", "Street food", ["street food", "snacks"], ["imbiss", "streetfood"], ["lanchonete", "salgados"], ["comida callejera", "tacos"], ["warung", "kaki lima"]),
  c("food.pizza", "Pizzeria", ["pizza", "pizzeria"], ["pizza", "pizzeria"], ["pizzaria", "pizza"], ["pizzería", "pizza"], ["pizza"]),
  c("food.grocery", "Grocery", ["grocery", "supermarket"], ["lebensmittel", "supermarkt"], ["mercearia", "mercado"], ["tienda de abarrotes", "supermercado"], ["toko kelontong", "swalayan"]),
  c("food.catering", "Catering", ["catering"], ["catering", "partyservice"], ["buffet", "catering"], ["catering", "banquetes"], ["katering"]),
  c("retail.pottery", "Pottery & ceramics", ["pottery", "ceramics"], ["töpferei", "keramik"], ["cerâmica", "olaria"], ["alfarería", "cerámica"], ["gerabah", "keramik"]),
  c("retail.fashion", "Fashion & clothing", ["fashion", "clothing", "boutique"], ["mode", "kleidung", "boutique"], ["moda", "roupas", "boutique"], ["moda", "ropa", "boutique"], ["fashion", "pakaian", "butik"]),
  c("retail.electronics", "Electronics", ["electronics", "phones"], ["elektronik", "handy"], ["eletrônicos", "celulares"], ["electrónica", "celulares"], ["elektronik", "ponsel"]),
  c("retail.books", "Books", ["books", "bookstore"], ["bücher", "buchhandlung"], ["livraria", "livros"], ["librería", "libros"], ["toko buku", "buku"]),
  c("retail.flowers", "Flowers", ["florist", "flowers"], ["blumen", "floristik"], ["floricultura", "flores"], ["floristería", "flores"], ["toko bunga", "bunga"]),
  c("retail.furniture", "Furniture", ["furniture", "home"], ["möbel", "einrichtung"], ["móveis", "decoração"], ["muebles", "decoración"], ["mebel", "furnitur"]),
  c("retail.jewelry", "Jewelry", ["jewelry", "jeweller"], ["schmuck", "juwelier"], ["joalheria", "joias"], ["joyería", "joyas"], ["perhiasan", "toko emas"]),
  c("retail.pharmacy", "Pharmacy", ["pharmacy", "chemist"], ["apotheke"], ["farmácia", "drogaria"], ["farmacia"], ["apotek"]),
  c("retail.hardware", "Hardware", ["hardware", "tools"], ["baumarkt", "eisenwaren"], ["ferragens", "materiais de construção"], ["ferretería"], ["toko bangunan", "perkakas"]),
  c("retail.pets", "Pet shop", ["pet shop", "pets"], ["tierbedarf", "zoohandlung"], ["pet shop", "animais"], ["tienda de mascotas", "mascotas"], ["toko hewan", "pet shop"]),
  c("retail.crafts", "Arts & crafts", ["crafts", "handmade", "art"], ["kunsthandwerk", "handgemacht", "kunst"], ["artesanato", "arte"], ["artesanía", "arte"], ["kerajinan", "seni"]),
  c("services.hair", "Hair & barber", ["hair salon", "barber"], ["friseur", "barbier"], ["cabeleireiro", "barbearia"], ["peluquería", "barbería"], ["salon rambut", "pangkas rambut"]),
  c("services.beauty", "Beauty & spa", ["beauty", "spa", "nails"], ["kosmetik", "spa", "nagelstudio"], ["estética", "spa", "manicure"], ["estética", "spa", "uñas"], ["kecantikan", "spa", "salon"]),
  c("services.laundry", "Laundry", ["laundry", "dry cleaning"], ["wäscherei", "reinigung"], ["lavanderia"], ["lavandería", "tintorería"], ["laundry", "binatu"]),
  c("services.repair", "Repair", ["repair", "fix"], ["reparatur", "werkstatt"], ["conserto", "assistência técnica"], ["reparación", "taller"], ["servis", "reparasi"]),
  c("services.auto", "Car services", ["car repair", "garage", "mechanic"], ["autowerkstatt", "kfz"], ["oficina mecânica", "auto center"], ["taller mecánico", "autos"], ["bengkel", "mobil"]),
  c("services.cleaning", "Cleaning", ["cleaning", "cleaners"], ["reinigung", "gebäudereinigung"], ["limpeza", "faxina"], ["limpieza"], ["kebersihan", "jasa bersih"]),
  c("services.photography", "Photography", ["photography", "photo studio"], ["fotografie", "fotostudio"], ["fotografia", "estúdio"], ["fotografía", "estudio"], ["fotografi", "studio foto"]),
  c("services.printing", "Printing", ["printing", "copy shop"], ["druckerei", "copyshop"], ["gráfica", "impressão"], ["imprenta", "copias"], ["percetakan", "fotokopi"]),
  c("services.legal", "Legal", ["lawyer", "legal", "notary"], ["rechtsanwalt", "kanzlei", "notar"], ["advogado", "advocacia", "cartório"], ["abogado", "notaría"], ["pengacara", "notaris"]),
  c("services.accounting", "Accounting", ["accountant", "tax"], ["steuerberater", "buchhaltung"], ["contabilidade", "contador"], ["contador", "contabilidad"], ["akuntan", "pajak"]),
  c("services.real_estate", "Real estate", ["real estate", "realtor"], ["immobilien", "makler"], ["imobiliária", "imóveis"], ["inmobiliaria", "bienes raíces"], ["properti", "agen rumah"]),
  c("services.events", "Events & weddings", ["events", "wedding"], ["veranstaltungen", "hochzeit"], ["eventos", "casamento"], ["eventos", "bodas"], ["acara", "pernikahan"]),
  c("services.logistics", "Delivery & logistics", ["delivery", "courier", "moving"], ["lieferdienst", "kurier", "umzug"], ["entregas", "mudanças", "motoboy"], ["mensajería", "mudanzas", "envíos"], ["kurir", "ekspedisi", "pindahan"]),
  c("health.clinic", "Clinic & doctor", ["clinic", "doctor"], ["arztpraxis", "klinik"], ["clínica", "médico"], ["clínica", "médico"], ["klinik", "dokter"]),
  c("health.dentist", "Dentist", ["dentist", "dental"], ["zahnarzt", "zahnarztpraxis"], ["dentista", "odontologia"], ["dentista", "clínica dental"], ["dokter gigi", "klinik gigi"]),
  c("health.fitness", "Gym & fitness", ["gym", "fitness", "yoga"], ["fitnessstudio", "yoga"], ["academia", "fitness", "yoga"], ["gimnasio", "yoga"], ["gym", "fitness", "yoga"]),
  c("health.veterinary", "Veterinary", ["vet", "veterinary"], ["tierarzt", "tierklinik"], ["veterinário", "clínica veterinária"], ["veterinario"], ["dokter hewan", "klinik hewan"]),
  c("education.school", "School & tutoring", ["school", "tutoring", "courses"], ["schule", "nachhilfe", "kurse"], ["escola", "cursos", "aulas"], ["escuela", "clases", "cursos"], ["sekolah", "les", "kursus"]),
  c("education.language", "Language school", ["language school", "english classes"], ["sprachschule", "deutschkurs"], ["escola de idiomas", "inglês"], ["academia de idiomas", "inglés"], ["kursus bahasa", "bahasa inggris"]),
  c("travel.hotel", "Hotel & lodging", ["hotel", "guesthouse", "hostel"], ["hotel", "pension", "ferienwohnung"], ["hotel", "pousada", "hostel"], ["hotel", "hostal"], ["hotel", "penginapan", "homestay"]),
  c("travel.agency", "Travel agency & tours", ["travel agency", "tours"], ["reisebüro", "touren"], ["agência de viagens", "passeios"], ["agencia de viajes", "tours"], ["agen perjalanan", "tur"]),
  c("transport.taxi", "Taxi & rides", ["taxi", "rides"], ["taxi", "fahrdienst"], ["táxi", "transporte"], ["taxi", "transporte"], ["taksi", "ojek"]),
  c("entertainment.venue", "Entertainment venue", ["cinema", "club", "venue"], ["kino", "club", "veranstaltungsort"], ["cinema", "balada", "casa de shows"], ["cine", "discoteca", "sala de conciertos"], ["bioskop", "klub", "tempat hiburan"]),
];

const BY_CODE = new Map(CATEGORIES.map((cat) => [cat.code, cat]));

export function findCategory(code: string): Category | undefined {
  return BY_CODE.get(code);
}

export function isCategory(code: string): boolean {
  return BY_CODE.has(code);
}

/** Words that go into a business's search document for its category (all languages). */
export function categorySearchText(code: string): string {
  const cat = BY_CODE.get(code);
  if (!cat) return "";
  return [cat.label, ...Object.values(cat.keywords).flat()].join(" ");
}
