/**
 * Vocabulary for generated businesses: real cities (with a weight for how
 * many businesses they get), and per-locale given names, surnames, category
 * words and name suffixes, so names look like "Bäckerei Schröder",
 * "Padaria São Jorge", "Warung Bu Sri" or "Shivika Pottery Gallery".
 */
export type Lang = "en" | "de" | "pt" | "es" | "id";

export interface City {
  name: string;
  country: string;
  tz: string;
  lat: number;
  lng: number;
  weight: number;
  locale: Locale;
}

export interface Locale {
  key: string;
  lang: Lang;
  /** Second language some businesses speak. */
  extra?: Lang;
  given: string[];
  surnames: string[];
  /** Words that go before or after the category word. */
  suffixes: string[];
  adjectives: string[];
  /** Preferred name shapes for this locale. */
  templates: ("type_surname" | "given_type" | "given_type_suffix" | "adj_type" | "type_given" | "surname_type")[];
}

const de: Locale = {
  key: "de",
  lang: "de",
  extra: "en",
  given: ["Anna", "Lukas", "Jonas", "Lena", "Mia", "Felix", "Paul", "Emma", "Leon", "Sophie", "Hannah", "Max", "Jürgen", "Sabine", "Klaus", "Petra", "Ute", "Götz", "Björn", "Käthe", "Jörg", "Dörte", "Marlene", "Friedrich", "Ingrid"],
  surnames: ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer"],
  suffixes: ["Haus", "Stube", "Werkstatt", "Laden", "Eck", "Manufaktur", "am Markt", "& Söhne", "Zentrale", "Atelier"],
  adjectives: ["Alte", "Neue", "Goldene", "Kleine", "Feine", "Süße", "Grüne", "Blaue", "Frische", "Echte"],
  templates: ["type_surname", "type_surname", "surname_type", "adj_type", "given_type_suffix"],
};

const en: Locale = {
  key: "en",
  lang: "en",
  extra: "es",
  given: ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Olivia", "Noah", "Amelia", "Oliver", "Isla", "Harry", "Grace", "Jack", "Poppy", "Freddie"],
  surnames: ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Fisher", "Henderson", "Coleman", "Patterson", "Jordan", "Reynolds", "Hamilton", "Graham", "Wallace", "Cole", "West", "Owens", "Marshall", "Ellis", "Harrison"],
  suffixes: ["Studio", "Gallery", "House", "Corner", "& Co", "Express", "Center", "Works", "Collective", "Emporium", "Lab", "Club"],
  adjectives: ["Golden", "Little", "Happy", "Green", "Blue", "Urban", "Royal", "Sunny", "Old Town", "Northside", "Fresh", "Good"],
  templates: ["given_type", "given_type_suffix", "adj_type", "surname_type", "given_type_suffix"],
};

const inLocale: Locale = {
  key: "in",
  lang: "en",
  given: ["Shivika", "Aarav", "Vivaan", "Aditya", "Ananya", "Diya", "Ishaan", "Kavya", "Priya", "Rohan", "Saanvi", "Arjun", "Meera", "Nikhil", "Pooja", "Rahul", "Sneha", "Vikram", "Lakshmi", "Ganesh", "Deepika", "Harsha", "Kiran", "Manish", "Neha", "Ravi", "Sunita", "Tanvi", "Uma", "Yash"],
  surnames: ["Sharma", "Verma", "Gupta", "Patel", "Reddy", "Iyer", "Nair", "Singh", "Kumar", "Das", "Mehta", "Joshi", "Rao", "Chopra", "Kapoor", "Malhotra", "Bose", "Banerjee", "Chatterjee", "Pillai", "Menon", "Desai", "Shah", "Agarwal", "Bhat", "Kulkarni", "Mishra", "Pandey", "Saxena", "Trivedi"],
  suffixes: ["Gallery", "Emporium", "House", "Studio", "Bhandar", "Store", "Palace", "Works", "Centre", "Mart", "& Sons", "Collective"],
  adjectives: ["Shree", "Royal", "New", "Golden", "Lucky", "Sai", "Om", "Jai", "Modern", "Classic"],
  templates: ["given_type_suffix", "given_type_suffix", "adj_type", "surname_type", "given_type"],
};

const pt: Locale = {
  key: "pt",
  lang: "pt",
  extra: "es",
  given: ["João", "Maria", "José", "Ana", "Antônio", "Francisca", "Carlos", "Paulo", "Adriana", "Lucas", "Juliana", "Pedro", "Márcia", "Fernanda", "Rafael", "Luís", "Patrícia", "Gabriel", "Aline", "Sebastião", "Conceição", "Thiago", "Camila", "Bruno", "Letícia"],
  surnames: ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo", "Monteiro", "Moura", "Correia", "Batista", "São Jorge", "São João", "Boa Vista", "Bom Jesus", "Santa Luzia", "Estrela", "Ipanema", "Copacabana", "Guanabara", "Pinheiros"],
  suffixes: ["Casa", "Ateliê", "Empório", "Cantinho", "& Filhos", "Express", "Central", "da Vila", "do Bairro", "Real"],
  adjectives: ["Nova", "Grande", "Bella", "Doce", "Primavera", "Estrela", "Dourada", "Pequena", "Boa", "Santa"],
  templates: ["type_surname", "type_surname", "type_given", "adj_type", "given_type_suffix"],
};

const es: Locale = {
  key: "es",
  lang: "es",
  extra: "en",
  given: ["José", "María", "Antonio", "Carmen", "Juan", "Ana", "Manuel", "Isabel", "Francisco", "Dolores", "Javier", "Lucía", "Miguel", "Pilar", "Alejandro", "Sofía", "Diego", "Valentina", "Andrés", "Camila", "Ramón", "Guadalupe", "Jesús", "Rocío", "Íñigo"],
  surnames: ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina", "Morales", "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Núñez", "El Sol", "La Esquina", "San Miguel", "La Paloma", "El Faro", "Los Arcos", "La Estrella", "El Olivo", "Santa Fe", "La Luna"],
  suffixes: ["Casa", "Taller", "Rincón", "Express", "Centro", "& Hijos", "del Barrio", "Real", "Plaza", "Mercado"],
  adjectives: ["Nueva", "Gran", "Bella", "Dulce", "Buena", "Pequeña", "Dorada", "Antigua", "Feliz", "Santa"],
  templates: ["type_surname", "type_surname", "type_given", "adj_type", "given_type_suffix"],
};

const id: Locale = {
  key: "id",
  lang: "id",
  extra: "en",
  given: ["Sri", "Budi", "Agus", "Siti", "Dewi", "Wayan", "Made", "Ketut", "Putu", "Ahmad", "Nur", "Rina", "Yanti", "Bambang", "Hendra", "Indah", "Joko", "Lestari", "Rudi", "Wati", "Eko", "Fitri", "Gede", "Ayu", "Dian"],
  surnames: ["Bu Sri", "Pak Budi", "Mbak Yuni", "Sederhana", "Barokah", "Makmur", "Sejahtera", "Jaya", "Abadi", "Bahagia", "Berkah", "Sentosa", "Lestari", "Mandiri", "Sumber Rejeki", "Maju", "Harapan", "Cahaya", "Mulia", "Indah", "Santoso", "Wijaya", "Setiawan", "Hidayat", "Saputra", "Kusuma", "Pratama", "Nugroho", "Gunawan", "Halim"],
  suffixes: ["Jaya", "Makmur", "Sejahtera", "Abadi", "Sentosa", "Mandiri", "Utama", "Baru", "Indah", "Permai"],
  adjectives: ["Sinar", "Cahaya", "Mitra", "Karya", "Dunia", "Pusat", "Sumber", "Bintang", "Citra", "Griya"],
  templates: ["type_surname", "type_surname", "type_given", "adj_type", "surname_type"],
};

export const LOCALES = { de, en, in: inLocale, pt, es, id };

const city = (name: string, country: string, tz: string, lat: number, lng: number, weight: number, locale: Locale): City => ({ name, country, tz, lat, lng, weight, locale });

export const CITIES: City[] = [
  city("Berlin", "DE", "Europe/Berlin", 52.52, 13.405, 8, de),
  city("Hamburg", "DE", "Europe/Berlin", 53.5511, 9.9937, 4, de),
  city("München", "DE", "Europe/Berlin", 48.1351, 11.582, 4, de),
  city("Köln", "DE", "Europe/Berlin", 50.9375, 6.9603, 3, de),
  city("Frankfurt am Main", "DE", "Europe/Berlin", 50.1109, 8.6821, 2, de),
  city("Stuttgart", "DE", "Europe/Berlin", 48.7758, 9.1829, 2, de),
  city("Leipzig", "DE", "Europe/Berlin", 51.3397, 12.3731, 1.5, de),
  city("Wien", "AT", "Europe/Vienna", 48.2082, 16.3738, 3, de),
  city("Zürich", "CH", "Europe/Zurich", 47.3769, 8.5417, 1.5, de),
  city("London", "GB", "Europe/London", 51.5074, -0.1278, 8, en),
  city("Manchester", "GB", "Europe/London", 53.4808, -2.2426, 2, en),
  city("New York", "US", "America/New_York", 40.7128, -74.006, 8, en),
  city("Chicago", "US", "America/Chicago", 41.8781, -87.6298, 3, en),
  city("Los Angeles", "US", "America/Los_Angeles", 34.0522, -118.2437, 4, en),
  city("Austin", "US", "America/Chicago", 30.2672, -97.7431, 1.5, en),
  city("Mumbai", "IN", "Asia/Kolkata", 19.076, 72.8777, 6, inLocale),
  city("Delhi", "IN", "Asia/Kolkata", 28.7041, 77.1025, 6, inLocale),
  city("Bengaluru", "IN", "Asia/Kolkata", 12.9716, 77.5946, 4, inLocale),
  city("Jaipur", "IN", "Asia/Kolkata", 26.9124, 75.7873, 2, inLocale),
  city("Kathmandu", "NP", "Asia/Kathmandu", 27.7172, 85.324, 1, inLocale),
  city("São Paulo", "BR", "America/Sao_Paulo", -23.5505, -46.6333, 9, pt),
  city("Rio de Janeiro", "BR", "America/Sao_Paulo", -22.9068, -43.1729, 5, pt),
  city("Belo Horizonte", "BR", "America/Sao_Paulo", -19.9167, -43.9345, 2.5, pt),
  city("Salvador", "BR", "America/Bahia", -12.9777, -38.5016, 2, pt),
  city("Manaus", "BR", "America/Manaus", -3.119, -60.0217, 1.5, pt),
  city("Lisboa", "PT", "Europe/Lisbon", 38.7223, -9.1393, 2.5, pt),
  city("Porto", "PT", "Europe/Lisbon", 41.1579, -8.6291, 1.5, pt),
  city("Madrid", "ES", "Europe/Madrid", 40.4168, -3.7038, 5, es),
  city("Barcelona", "ES", "Europe/Madrid", 41.3851, 2.1734, 4, es),
  city("Sevilla", "ES", "Europe/Madrid", 37.3891, -5.9845, 1.5, es),
  city("Ciudad de México", "MX", "America/Mexico_City", 19.4326, -99.1332, 8, es),
  city("Guadalajara", "MX", "America/Mexico_City", 20.6597, -103.3496, 2.5, es),
  city("Bogotá", "CO", "America/Bogota", 4.711, -74.0721, 4, es),
  city("Buenos Aires", "AR", "America/Argentina/Buenos_Aires", -34.6037, -58.3816, 5, es),
  city("Santiago", "CL", "America/Santiago", -33.4489, -70.6693, 2.5, es),
  city("Jakarta", "ID", "Asia/Jakarta", -6.2088, 106.8456, 10, id),
  city("Surabaya", "ID", "Asia/Jakarta", -7.2575, 112.7521, 4, id),
  city("Bandung", "ID", "Asia/Jakarta", -6.9175, 107.6191, 3, id),
  city("Medan", "ID", "Asia/Jakarta", 3.5952, 98.6722, 2.5, id),
  city("Yogyakarta", "ID", "Asia/Jakarta", -7.7956, 110.3695, 1.5, id),
  city("Denpasar", "ID", "Asia/Makassar", -8.6705, 115.2126, 1.5, id),
  city("Makassar", "ID", "Asia/Makassar", -5.1477, 119.4327, 1.5, id),
];

/** Weekly hour patterns (minutes from midnight; close > 1440 runs past midnight). */
export interface HoursTemplate {
  weight: number;
  alwaysOpen?: boolean;
  days: Partial<Record<1 | 2 | 3 | 4 | 5 | 6 | 7, [number, number][]>>;
}

const h = (hh: number, mm = 0) => hh * 60 + mm;
const weekdays = (ranges: [number, number][]) => ({ 1: ranges, 2: ranges, 3: ranges, 4: ranges, 5: ranges });

export const HOURS_TEMPLATES: HoursTemplate[] = [
  { weight: 20, days: { ...weekdays([[h(9), h(18)]]), 6: [[h(9), h(14)]] } },
  { weight: 12, days: { ...weekdays([[h(7), h(20)]]), 6: [[h(7), h(20)]], 7: [[h(8), h(14)]] } },
  { weight: 10, days: { ...weekdays([[h(10), h(22)]]), 6: [[h(10), h(23)]], 7: [[h(11), h(21)]] } },
  { weight: 8, days: { ...weekdays([[h(11, 30), h(15)], [h(18), h(23)]]), 6: [[h(12), h(23, 30)]] } },
  { weight: 6, days: { 2: [[h(18), h(26)]], 3: [[h(18), h(26)]], 4: [[h(18), h(27)]], 5: [[h(18), h(28)]], 6: [[h(17), h(29)]], 7: [[h(16), h(24)]] } },
  { weight: 5, alwaysOpen: true, days: {} },
  { weight: 8, days: { ...weekdays([[h(8), h(12)], [h(14), h(18, 30)]]) } },
  { weight: 7, days: { 1: [[h(6), h(21)]], 2: [[h(6), h(21)]], 3: [[h(6), h(21)]], 4: [[h(6), h(21)]], 5: [[h(6), h(21)]], 6: [[h(6), h(21)]], 7: [[h(6), h(21)]] } },
  { weight: 4, days: { 3: [[h(10), h(18)]], 4: [[h(10), h(18)]], 5: [[h(10), h(20)]], 6: [[h(10), h(20)]], 7: [[h(12), h(18)]] } },
  { weight: 5, days: { ...weekdays([[h(19), h(31)]]) } },
];

export const ABOUT_LINES: Record<Lang, string[]> = {
  en: ["Family owned since 1998", "Handmade with love", "Order on chat, pick up in store", "Best prices in town", "Fast delivery", "Open late", "Local and fresh"],
  de: ["Familienbetrieb seit 1987", "Handgemacht mit Liebe", "Bestellen per Chat, abholen im Laden", "Frisch aus der Region", "Schnelle Lieferung", "Auch sonntags geöffnet"],
  pt: ["Tradição de família desde 1985", "Feito à mão com carinho", "Peça pelo chat e retire na loja", "Os melhores preços da cidade", "Entrega rápida", "Produtos frescos"],
  es: ["Negocio familiar desde 1990", "Hecho a mano con cariño", "Pide por chat y recoge en tienda", "Los mejores precios", "Entrega rápida", "Productos frescos"],
  id: ["Usaha keluarga sejak 2001", "Buatan tangan", "Pesan lewat chat, ambil di toko", "Harga terbaik", "Pengiriman cepat", "Selalu segar"],
};
